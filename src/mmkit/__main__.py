from mmkit.cli.launch import run

run()
