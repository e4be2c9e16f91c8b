from tts_proxy.cli import main

main()
