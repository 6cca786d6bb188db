"""Instagram direct messages and stories through instagrapi (sync, run in a thread)."""
