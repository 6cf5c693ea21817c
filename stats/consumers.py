"""The dashboard's live tail over a WebSocket (/ws/requests/): staff only, fed by stats.tail."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from stats.tail import GROUP

__all__ = ["RequestTailConsumer"]


class RequestTailConsumer(AsyncJsonWebsocketConsumer):
    """Joins the tail's group; each batch the log writer wrote arrives as ``{"rows": [...]}``, oldest first.

    Anyone but an active staff user is refused during the handshake (HTTP 403). The client sends nothing.
    """

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not (user.is_active and user.is_staff):
            await self.close()
            return
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def tail_rows(self, event):
        await self.send_json({"rows": event["rows"]})
