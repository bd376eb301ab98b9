"""Expected SHA-256 of every shipped data file (paths relative to the data root).

The values are the ones published in the data folder's ``SHA256SUMS``; they are kept in the
package as well so that a damaged ``SHA256SUMS`` cannot hide a damaged data file.
"""

SHA256: dict[str, str] = {
    "fashion-mnist/t10k-images-idx3-ubyte.gz":
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "fashion-mnist/t10k-labels-idx1-ubyte.gz":
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "fashion-mnist/train-images-idx3-ubyte.gz":
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "fashion-mnist/train-labels-idx1-ubyte.gz":
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "mnist/t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "mnist/t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    "mnist/train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "mnist/train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "unsw-nb15/NUSW-NB15_features.csv":
        "c55f19cceebb6360dc50f44f8a5f246ccefbcf8a6c604ac1ad46e643869cafce",
    "unsw-nb15/UNSW_NB15_testing-set.csv.xz":
        "97081f8a819af7bb9e72ae605053e3755630265e73917eb4d8e10d05d965afee",
    "nangate45/nangate45_typ.lib.gz":
        "7ee6c11d0c8964f9971ba28b879a6cad28e178f86911adda71ac0672ce00f7ef",
}
