"""The Engine protocol a selector trains and scores through: the model engine and a fast fake one."""
