"""L2: the owner's own model, trained from their memory and served by llama.cpp."""
