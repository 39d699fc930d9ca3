"""Placeholder: being written."""

import streamlit as st

st.title("fits")
st.info("Coming soon.")
