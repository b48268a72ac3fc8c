"""DRF's JSON parser, bounded: a body nested deeper than any request of this API is bad JSON, answered 400.

Python's decoder raises RecursionError (not ValueError) past about a thousand levels, and a body just under
that reaches the validators and hashing still nested: both answered 500 before.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# The deepest request body the schema allows is a few levels (choices, a value, its fields); room to spare.
MAX_DEPTH = 32


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from None
        if _depth_exceeds(data, MAX_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        return data


def _depth_exceeds(data, limit: int) -> bool:
    """More than ``limit`` objects and arrays inside one another? Level by level, without recursion."""
    level, depth = [data], 0
    while containers := [item for item in level if isinstance(item, dict | list)]:
        if depth == limit:
            return True
        level = [
            child for item in containers for child in (item.values() if isinstance(item, dict) else item)
        ]
        depth += 1
    return False
