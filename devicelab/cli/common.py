"""What every devicelab command shares on the command line."""

from __future__ import annotations

import click

from devicelab.model.outcome import EXIT_ERROR

#: Bad input exits like a lab failure (devicelab.model.outcome): never a verdict's code.
EXIT_INPUT = EXIT_ERROR


class Command(click.Command):
    """Usage errors exit 3, not click's 2: exit 2 means "inconclusive" to a CI gate."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            exc.exit_code = EXIT_INPUT  # type: ignore[misc]
            raise
