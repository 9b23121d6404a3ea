from mmkit.cli.main import main

main()
