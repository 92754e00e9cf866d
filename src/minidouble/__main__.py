from minidouble._cli import main

raise SystemExit(main())
