"""Learned codecs: model building and loading (`models`), the bitstream file (`container`) and the
adapter that runs them in a sweep (`adapter`).  Torch and CompressAI are imported only when used."""
