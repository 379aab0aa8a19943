"""The model: the LSTM module, vocabulary and embeddings, lexicon features, inference, artifacts."""
