from webscan.cli import main

main()
