"""Encoder-decoders for translation (``models.seq2seq``). One file per variant; the file name is its name."""
