"""nexpress.http._bounded: the memo dict that empties itself when full."""

from nexpress.http._bounded import BoundedDict


def test_a_full_bounded_dict_forgets_everything_before_it_stores_more() -> None:
    memo: BoundedDict[str, int] = BoundedDict(2)
    assert memo.put("a", 1) == 1 and memo.put("b", 2) == 2
    assert memo == {"a": 1, "b": 2} and memo.get("a") == 1
    memo.put("c", 3)
    assert memo == {"c": 3}
    memo.put("c", 4)  # a key it holds: replaced, nothing forgotten below the limit
    assert memo == {"c": 4} and len(memo) <= memo.limit
