from edgeptm.cli import main

main()
