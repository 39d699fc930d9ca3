"""Placeholder: being written."""

import streamlit as st

st.title("test_time")
st.info("Coming soon.")
