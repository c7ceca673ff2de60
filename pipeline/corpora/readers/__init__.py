"""One file per corpus reader; the file name is ``corpus.name``. See ``pipeline.corpora.base``."""
