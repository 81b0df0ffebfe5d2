-- The host's own documents (action status) were under the plugin name
-- `_host`, which plugins may now have; the host's namespace is `:host`,
-- which no plugin name can be.
UPDATE documents SET plugin = ':host' WHERE plugin = '_host';
