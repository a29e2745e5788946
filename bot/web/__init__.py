"""The bot's HTTP server: health, the Telegram webhook, the trigger API (/api/v1).

`api.py` declares what an endpoint is (its pydantic types, from which the OpenAPI
document is generated); `server.py` serves them; one module per resource holds endpoints.
"""
