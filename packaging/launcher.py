"""The bundled app's entry point: `walt3d-studio [PROJECT] [--screenshot ...]`, or `walt3d-studio cli ARGS...`
for the command line (one executable for both, so the app folder needs no second binary)."""
import sys

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "cli":
        from walt3d_studio.cli import main as cli_main

        sys.exit(cli_main(sys.argv[2:]))
    from walt3d_studio.gui.app import main

    sys.exit(main())
