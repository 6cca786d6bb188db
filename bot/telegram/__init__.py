"""The Telegram channel (aiogram 3): dispatcher factory, routers, middlewares, keyboards."""
