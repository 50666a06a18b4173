"""People for tests: the built-in operator (an admin that is never stored, as the CLI acts on a fresh
install) for tests about something else, and real accounts for tests about rights."""

from __future__ import annotations

from sqlmodel import Session

from shared.records import Role, User
from shared.services.users import find_user, operator

# Never added to a session: what it makes has no owner and is visible to everyone, as before people existed.
OP = operator()


def person(session: Session, name: str, role: Role | str = Role.member) -> User:
    """The stored account ``name`` (made on first use, without a password so no argon2 hashing slows tests)."""
    user = find_user(session=session, name=name)
    if user is None:
        user = User(name=name, role=Role(role))
        session.add(user)
        session.commit()
        session.refresh(user)
    return user
