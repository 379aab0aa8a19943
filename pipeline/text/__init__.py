"""Text processing: normalisation, the spaCy tokenizer rules, language id, brand matching."""
