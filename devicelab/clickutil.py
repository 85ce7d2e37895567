"""What every devicelab command shares on the command line."""

from __future__ import annotations

import click

#: Exit code for bad input and lab failures, in every command (0 pass, 1 fail, 2 inconclusive).
EXIT_INPUT = 3


class Command(click.Command):
    """Usage errors exit 3, not click's 2: exit 2 means "inconclusive" to a CI gate."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            exc.exit_code = EXIT_INPUT  # type: ignore[misc]
            raise
