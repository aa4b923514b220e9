"""Type-checked (mypy --strict) against the stubs of the generated fixture packages.

Never run: tests/codegen/test_stubs.py checks it with mypy.
"""

from __future__ import annotations

from typing import Any

from base_thrift.ttypes import BaseError, Level, Point
from divergences_thrift.ttypes import Selfish, Shadowing
from features_thrift import Child, Features, constants
from features_thrift.ttypes import Choice, Everything, Failure, Frozen, Shape


class Handler(Child.Iface):
    def choose(self, when: int | None) -> Choice:
        return Choice(number=when)

    def version(self) -> str:
        return "1"


def use(client: Features.Client, stream: Any) -> None:
    value: Everything = client.echo(Everything(corner=Point(x=1, y=2)), Choice(text="t"))
    name: str | None = value.name
    routes: dict[int, list[Point]] | None = value.routes
    frozen: Frozen = Frozen.read(stream)
    shapes: dict[int, set[str]] = client.shapes([Shape.CIRCLE])
    count: int = constants.MAX + Level.HIGH
    mirror: Selfish = Selfish(self=1, other="x")
    print(name, routes, frozen, shapes, count, mirror, Shadowing(read=True).read)
    try:
        client.nothing()
    except (Failure, BaseError) as exc:
        print(exc.message)


def processor() -> Child.Processor:
    return Child.Processor(Handler())
