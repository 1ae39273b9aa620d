from frontdesk.cli.main import run

run()
