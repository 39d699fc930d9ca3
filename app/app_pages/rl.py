"""Placeholder: being written."""

import streamlit as st

st.title("rl")
st.info("Coming soon.")
