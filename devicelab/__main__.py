from devicelab.cli.main import main

main()
