#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
    if sys.argv[1:] == ["genkey"]:
        # genkey makes the key the settings demand when DATABASE_URL is set: run it before they load.
        from gateway.management.commands.genkey import new_key

        print(new_key())
        return
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
