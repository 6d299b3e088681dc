"""Rows in and out: loaders, schemas, the importer, the exporter, the bundled pools."""
