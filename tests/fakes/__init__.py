"""Fakes for the test suite: ``FakeUpstream``, a scripted stand-in for every upstream provider."""

from .replies import Reply, ToolCall, Usage
from .upstream import FakeUpstream, RecordedRequest, fake_upstream

__all__ = ["FakeUpstream", "RecordedRequest", "Reply", "ToolCall", "Usage", "fake_upstream"]
