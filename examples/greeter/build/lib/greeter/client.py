"""Call the Greeter through thriftbuild's pooled client: ``python -m greeter.client PORT``.

The client is configured the way a service configures its dependencies: a flat
config (from an INI file in real life) and ``configure_context``, which gives an
object whose ``.greeter`` is a pooled, thread-safe proxy with the service's methods.
At the end it prints the Prometheus metrics the calls produced.
"""

from __future__ import annotations

import sys

from prometheus_client import generate_latest

from greeter.greeter_thrift import Greeter
from greeter.greeter_thrift.ttypes import UnknownLanguage
from thriftbuild import ThriftClient, configure_context


def main() -> int:
    port = int(sys.argv[1])
    app_config = {
        "greeter.endpoint": f"127.0.0.1:{port}",
        "greeter.size": "4",
        "greeter.timeout": "2 seconds",
        "greeter.max_age": "1 minute",
    }
    context = configure_context(app_config, {"greeter": ThriftClient(Greeter.Client)})
    greeter = context.greeter
    print(f"client: {greeter.pool!r}")
    try:
        greeter.ping()
        for name, language in (("Ada", "en"), ("Marie", "fr"), ("Grace", "de")):
            greeting = greeter.greet(name, language)
            print(f"greet({name!r}, {language!r}) -> {greeting.text}")
        try:
            greeter.greet("Alan", "tlh")
        except UnknownLanguage as error:  # declared in the IDL: the connection is kept
            print(f"greet('Alan', 'tlh') -> UnknownLanguage(language={error.language!r})")
        # greet() is safe to run twice, so it may be retried even after a timeout.
        with greeter.retrying(attempts=3, budget=1.0, idempotent={"greet"}) as svc:
            print(f"retrying greet('Linus', 'es') -> {svc.greet('Linus', 'es').text}")
        greeter.log("demo finished")
        print(f"client: {greeter.pool!r}")
    finally:
        greeter.pool.close()

    print("\nmetrics (histogram buckets left out):")
    for line in generate_latest().decode().splitlines():
        if "thrift_client" in line and "_bucket{" not in line and not line.startswith("#"):
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
