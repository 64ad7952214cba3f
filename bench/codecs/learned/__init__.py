"""Learned codecs: model building and loading (`models`), the bitstream file (`container`), the adapter
that runs them in a sweep (`adapter`), the decoder process every bitstream is decoded in (`decoder`)
and their measured complexity and timing split (`complexity`).  Torch and CompressAI are imported only
when used."""
