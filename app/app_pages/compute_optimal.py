"""Placeholder: being written."""

import streamlit as st

st.title("compute_optimal")
st.info("Coming soon.")
