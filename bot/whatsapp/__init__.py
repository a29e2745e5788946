"""The WhatsApp Cloud API channel: client, port, webhook, events (README "WhatsApp")."""
