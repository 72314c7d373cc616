"""Wire formats: the CDR JSON model and the Avro schemas of the internal and output topics."""
