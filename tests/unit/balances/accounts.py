"""A small account tree for the blocking tests: admin -> r1 (ast1) -> u1, u2; r2 (global) -> u3; d1 direct."""
from pipeline.schemas.reference import AccountIn

DEFAULT_SERVER = "default"


def tree(**changes) -> dict[str, AccountIn]:
    """Accounts by id; `changes` maps an id to field overrides, e.g. r1={"blocked": True}."""
    base = {
        "admin": dict(type="admin", server="global"),
        "r1": dict(type="reseller", billing="prepaid", server="ast1"),
        "u1": dict(type="user", parent="r1", billing="prepaid"),
        "u2": dict(type="user", parent="r1", billing="postpaid", credit_limit="50"),
        "r2": dict(type="reseller", billing="postpaid", credit_limit="100", server="global"),
        "u3": dict(type="user", parent="r2", billing="prepaid", server="ast3"),
        "d1": dict(type="user", billing="postpaid"),
    }
    return {ident: AccountIn(id=ident, **{**fields, **changes.get(ident, {})}) for ident, fields in base.items()}
