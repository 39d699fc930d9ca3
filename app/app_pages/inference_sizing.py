"""Placeholder: being written."""

import streamlit as st

st.title("inference_sizing")
st.info("Coming soon.")
