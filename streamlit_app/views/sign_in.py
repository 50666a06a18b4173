"""Sign in (or redeem a one-time sign-up link). The router shows the same screen in place of any
page while nobody is signed in; this is the address it lands on."""

from __future__ import annotations

from streamlit_app.components import auth

auth.sign_in_screen()
