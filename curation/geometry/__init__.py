"""Vectors and what is computed over them: embeddings, FAISS index, duplicates, K-Center, Vendi, maps."""
