"""Model routing: which providers, in which order, under which upstream name, serve a model."""

from dataclasses import dataclass

from gateway.errors import NoAccount, UnknownModel
from gateway.snapshot import ProviderConf, Snapshot

__all__ = ["Target", "plan_route"]


@dataclass(frozen=True, slots=True)
class Target:
    provider: ProviderConf
    model: str  # the name the upstream knows


def plan_route(snapshot: Snapshot, model: str) -> list:
    """The ordered fallback chain for ``model``; raises UnknownModel when nothing routes it."""
    route = snapshot.route_for(model)
    if route is not None:
        upstream = route.upstream_model or model
        targets = [Target(snapshot.providers[pid], upstream) for pid in route.provider_ids
                   if pid in snapshot.providers and snapshot.providers[pid].enabled]
        if not targets:
            raise NoAccount(f"every provider routed for model '{model}' is disabled")
        return targets
    if snapshot.default_provider_id is not None:
        return [Target(snapshot.providers[snapshot.default_provider_id], model)]
    raise UnknownModel(f"the model '{model}' is not served by this gateway", param="model")
