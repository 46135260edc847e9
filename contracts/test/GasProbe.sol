// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ICredentialRegistry} from "../ICredentialRegistry.sol";

/**
 * @title GasProbe
 * @notice Test helper: measures the gas a calling contract pays for
 * {ICredentialRegistry-checkCredential} (call, argument encoding and the callee's execution).
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
}
