import sys

from dni_rnn.cli import main

sys.exit(main())
