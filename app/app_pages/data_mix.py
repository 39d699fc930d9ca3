"""Placeholder: being written."""

import streamlit as st

st.title("data_mix")
st.info("Coming soon.")
