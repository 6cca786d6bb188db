"""Channel-neutral services: no aiogram, no instagrapi."""
