// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {CanonicalDid} from "../CredentialRegistry.sol";
import {ICredentialRegistry} from "../ICredentialRegistry.sol";

/**
 * @title GasProbe
 * @notice Test helper: measures the gas a calling contract pays for
 * {ICredentialRegistry-checkCredential} (call, argument encoding and the callee's execution), and
 * what {CredentialRegistry-admitIssuer} pays for its canonical-URI check ({CanonicalDid}).
 * Read it with eth_call; it never changes state.
 */
contract GasProbe {
    /**
     * @notice Calls `registry.checkCredential(root, digest, proof)` and reports its cost.
     * @return gasUsed gasleft() before the call minus gasleft() after it.
     * @return status The status returned by the registry.
     *
     * Requirements: none.
     */
    function measureCheck(ICredentialRegistry registry, bytes32 root, bytes32 digest, bytes32[] calldata proof)
        external
        view
        returns (uint256 gasUsed, ICredentialRegistry.Status status)
    {
        uint256 before = gasleft();
        status = registry.checkCredential(root, digest, proof);
        gasUsed = before - gasleft();
    }

    /**
     * @notice Runs the check {CredentialRegistry-admitIssuer} applies to `uri` and reports its cost.
     * @return gasUsed gasleft() before the check minus gasleft() after it.
     * @return canonical Whether `uri` is a DID in canonical form.
     *
     * Requirements: none.
     */
    function measureUriCheck(string calldata uri) external view returns (uint256 gasUsed, bool canonical) {
        uint256 before = gasleft();
        canonical = CanonicalDid.isCanonical(bytes(uri));
        gasUsed = before - gasleft();
    }
}
