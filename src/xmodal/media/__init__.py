"""Decoding and segmenting media safely, with limits passed down explicitly."""
