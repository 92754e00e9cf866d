"""One module (or package) per endpoint family, written against the service interface."""
