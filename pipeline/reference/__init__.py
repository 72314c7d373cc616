"""Reference data administration: the records, the book every process keeps of them, the write
rules (who may write what, what must hold once written), rate files, and reading and publishing the
ref.* topics. Rating (pipeline/rating) reads the book through a protocol and imports nothing here.
"""
