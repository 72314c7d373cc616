"""Pure CDR processing: bytes from cdr.raw in, a rated or a rejected record out. No I/O here."""
