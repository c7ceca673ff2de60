"""A pickled object whose unpickling writes a marker file: proof that loading a file ran code from it."""


class CodeRunningPayload:
    """Unpickling this calls open(marker, "w")."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))
